//! The merge of the layers into [`Settings`], what `serve` runs with: flag or env var
//! ([`ServeArgs`]) > config file ([`Config`]) > default, every value checked, and a bad one
//! named by its flag or file key ([`ConfigError`]).
//!
//! This module owns those checks, the domain's [`Policy`] and the API's [`ApiConfig`] built
//! from the file, and the two ways to get [`Settings`]: [`ServeArgs::settings`] (what `serve`
//! and `demo` do: read `--config`, merge the flags) and [`Settings::with_defaults`] (the
//! defaults on a given data dir, address and store, for tests and tools that start a service
//! without a command line).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use caseledger_api::ApiConfig;
use caseledger_app::webhooks::{parse_cidr, EgressPolicy, RetrySchedule};
use caseledger_domain::{
    DeadlineRule, Department, LetterKind, NumberTemplate, PeriodStart, PeriodUnit, Policy,
    PolicyError, Tier,
};

use super::file::Config;
use super::flags::ServeArgs;
use super::store_selection::StoreSelection;

/// The longest default letter deadline, in days (ten years); longer ones are surely typos.
const MAX_DEADLINE_DAYS: i64 = 3650;

/// The longest deadline scan interval; the contract promises a missed deadline is recorded
/// within one interval, so a longer one would make `overdue` meaningless.
const MAX_DEADLINE_SCAN_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

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

/// A configuration value that cannot be used, naming its key (`tiers.four_way`) or flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The key in the file, or the flag, that holds the bad value.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
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
    /// The directory of calendar files added to the calendar built in, when there is one.
    pub calendar_dir: Option<PathBuf>,
    /// How letters are printed: the letterhead, and the template and font directories.
    pub printing: PrintingSettings,
    /// Which files cases take as attachments.
    pub attachments: caseledger_app::AttachmentLimits,
    /// Commands are refused while the data dir's filesystem has less free space (embedded
    /// store; 0: no reserve).
    pub min_free_space_bytes: u64,
    /// How the service uses memory.
    pub app: caseledger_app::AppOptions,
    /// sled's page cache, in bytes (embedded store).
    pub sled_cache_bytes: u64,
    /// The HTTP server's connection limits.
    pub http: HttpLimits,
    /// The console's time zone and public address.
    pub console: caseledger_console::ConsoleConfig,
}

/// `[letters.copies_to]` by letter kind: each name one line of text, trimmed.
fn copies_to(
    config: &super::file::CopiesToConfig,
) -> Result<BTreeMap<LetterKind, Vec<String>>, ConfigError> {
    let mut by_kind = BTreeMap::new();
    for (kind, names) in [
        (LetterKind::Opinion, &config.opinion),
        (LetterKind::Recommendation, &config.recommendation),
    ] {
        let mut checked = Vec::new();
        for name in names {
            let name = name.trim();
            if name.is_empty() || name.chars().any(char::is_control) || name.chars().count() > 64 {
                return Err(ConfigError::new(
                    format!("letters.copies_to.{kind}"),
                    format!(
                        "{name:?} is not a recipient: one line of 1 to 64 characters, no control \
                         characters"
                    ),
                ));
            }
            checked.push(name.to_owned());
        }
        if !checked.is_empty() {
            by_kind.insert(kind, checked);
        }
    }
    Ok(by_kind)
}

/// How letters are printed (`[letters]`, `--template-dir`, `--font-dir`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintingSettings {
    /// The office, signature and contact every letter prints.
    pub letterhead: caseledger_app::Letterhead,
    /// Templates replacing the ones built in.
    pub template_dir: Option<PathBuf>,
    /// Fonts added to the ones built in.
    pub font_dir: Option<PathBuf>,
}

impl super::file::ConsoleFileConfig {
    /// The console's settings and the session limits: the flags over the file.
    fn resolve(
        &self,
        flags: &super::flags::ConsoleArgs,
    ) -> Result<
        (
            caseledger_console::ConsoleConfig,
            caseledger_app::SessionLimits,
        ),
        ConfigError,
    > {
        let (idle, idle_key) = match flags.session_idle {
            Some(idle) => (idle, "--session-idle"),
            None => (
                Duration::from_secs(self.session_idle_minutes.saturating_mul(60)),
                "console.session_idle_minutes",
            ),
        };
        let (max, max_key) = match flags.session_max {
            Some(max) => (max, "--session-max"),
            None => (
                Duration::from_secs(self.session_max_hours.saturating_mul(3600)),
                "console.session_max_hours",
            ),
        };
        if idle < Duration::from_secs(60) {
            return Err(ConfigError::new(idle_key, "must be at least one minute"));
        }
        if max < idle {
            return Err(ConfigError::new(
                max_key,
                "must be at least the idle limit (--session-idle)",
            ));
        }
        let (zone, zone_key) = match &flags.timezone {
            Some(zone) => (zone.as_str(), "--timezone"),
            None => (self.timezone.as_str(), "console.timezone"),
        };
        let timezone: chrono_tz::Tz = zone.parse().map_err(|_| {
            ConfigError::new(
                zone_key,
                format!("'{zone}' is not an IANA time zone (e.g. Asia/Shanghai, UTC)"),
            )
        })?;
        let (public_url, url_key) = match &flags.public_url {
            Some(url) => (Some(url.clone()), "--public-url"),
            None => (self.public_url.clone(), "console.public_url"),
        };
        let public_url = match public_url {
            Some(url) => {
                let url = url.trim_end_matches('/').to_owned();
                let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
                let has_host = url.split("://").nth(1).is_some_and(|rest| !rest.is_empty());
                if !scheme_ok || !has_host || url.contains(char::is_whitespace) {
                    return Err(ConfigError::new(
                        url_key,
                        "must be an http:// or https:// address, e.g. https://caseledger.example.org",
                    ));
                }
                Some(url)
            }
            // Setup links then use the bound address; forms are checked against their `Host`.
            None => None,
        };
        Ok((
            caseledger_console::ConsoleConfig::new(timezone, public_url),
            caseledger_app::SessionLimits { idle, max },
        ))
    }
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

impl ServeArgs {
    /// The settings these flags give: the config file they name (`--config`), or the
    /// defaults, with the flags merged over it and checked.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let config = Config::load_or_default(self.config.as_deref())?;
        config
            .resolve(self.clone())
            .with_context(|| match &self.config {
                Some(path) => format!("invalid configuration (config file {})", path.display()),
                None => "invalid configuration".to_owned(),
            })
    }
}

impl Settings {
    /// The default settings of a service on `data_dir`, listening on `listen` (port 0 picks a
    /// free one), over `store`: what `caseledger serve --data-dir DIR --listen ADDR --store
    /// STORE` runs with when no config file and no other flag is given. Change a field
    /// afterwards for anything else, or build a [`ServeArgs`] and call [`ServeArgs::settings`].
    ///
    /// ```
    /// use caseledger::config::{Settings, StoreSelection};
    ///
    /// let settings = Settings::with_defaults("/tmp/data", "127.0.0.1:0".parse().unwrap(), StoreSelection::Sled);
    /// assert_eq!(settings.deadline_scan_interval, std::time::Duration::from_secs(30));
    /// ```
    pub fn with_defaults(
        data_dir: impl Into<PathBuf>,
        listen: SocketAddr,
        store: StoreSelection,
    ) -> Settings {
        let mut settings = Config::default()
            .resolve(ServeArgs::default())
            // A unit test (`the_defaults_are_the_domain_defaults`) resolves the defaults.
            .unwrap_or_else(|error| unreachable!("the defaults are valid: {error}"));
        settings.data_dir = data_dir.into();
        settings.listen = listen;
        settings.store = store;
        settings
    }
}

impl Config {
    /// Merges the flags (and their env vars) over this file and checks the result: a flag
    /// that is given wins over the file's key, which wins over the default. An error names
    /// the flag when the bad value came from one, the file key otherwise.
    pub fn resolve(self, flags: ServeArgs) -> Result<Settings, ConfigError> {
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
        if flags.attachment_max.unwrap_or(self.attachments.max_bytes) == 0 {
            return Err(ConfigError::new(
                "attachments.max_bytes",
                "must be at least 1 byte",
            ));
        }
        if self.attachments.accepted_types.is_empty() {
            return Err(ConfigError::new(
                "attachments.accepted_types",
                "must name at least one media type",
            ));
        }
        if let Some(bad) = self.attachments.accepted_types.iter().find(|kind| {
            let mut parts = kind.split('/');
            !matches!((parts.next(), parts.next(), parts.next()), (Some(a), Some(b), None) if !a.is_empty() && !b.is_empty() && kind.is_ascii())
        }) {
            return Err(ConfigError::new(
                "attachments.accepted_types",
                format!("'{bad}' is not a media type such as application/pdf"),
            ));
        }
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
        let deadline_scan_interval = match flags.deadline_scan_interval {
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
        let (body_read_timeout, body_key) = match flags.body_read_timeout {
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
        let (header_read_timeout, header_key) = match flags.header_read_timeout {
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
        let guard_flags = &flags.guards;
        let (search_budget, budget_key) = match guard_flags.search_budget {
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
        let (token_rate, token_burst) = guard_flags
            .token_rate
            .unwrap_or((guards.token_rate_per_second, guards.token_rate_burst));
        let (address_rate, address_burst) = guard_flags
            .address_rate
            .unwrap_or((guards.address_rate_per_second, guards.address_rate_burst));
        let whole_log_reads = guard_flags
            .whole_log_reads
            .unwrap_or(guards.whole_log_reads_per_token);
        if whole_log_reads == 0 {
            return Err(ConfigError::new(
                "guards.whole_log_reads_per_token",
                "must be at least 1",
            ));
        }
        let max_connections = guard_flags
            .max_connections
            .unwrap_or(guards.max_connections);
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
        policy.max_case_events = guard_flags
            .max_case_events
            .unwrap_or(guards.max_case_events);
        policy
            .validate()
            .map_err(|error| ConfigError::new("guards.max_case_events", error.to_string()))?;
        let webhook_retry_schedule =
            match flags.webhook_retry_schedule {
                Some(schedule) => schedule,
                None => self.webhooks.retry_schedule.parse().map_err(|error| {
                    ConfigError::new("webhooks.retry_schedule", format!("{error}"))
                })?,
            };
        let (idempotency_ttl, ttl_key) = match flags.idempotency_ttl {
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
            allowed: if !flags.webhook_allow_cidr.is_empty() {
                flags.webhook_allow_cidr
            } else {
                self.webhooks
                    .allow_cidrs
                    .iter()
                    .map(|text| parse_cidr(text))
                    .collect::<Result<_, _>>()
                    .map_err(|message| ConfigError::new("webhooks.allow_cidrs", message))?
            },
            require_https: flags.webhook_require_https || self.webhooks.require_https,
        };
        let copies_to = copies_to(&self.letters.copies_to)?;
        let listen = flags.listen.unwrap_or(self.listen);
        let (console, sessions) = self.console.resolve(&flags.console)?;
        Ok(Settings {
            console,
            listen,
            data_dir: flags.data_dir.unwrap_or(self.data_dir),
            store: flags
                .store
                .or(self.store.url)
                .unwrap_or(StoreSelection::Sled),
            api,
            policy,
            deadline_scan_interval,
            signing_key: flags.signing_key.or(self.signing_key),
            kek_file: flags.kek_file.or(self.kek_file),
            previous_kek_file: flags.previous_kek_file.or(self.previous_kek_file),
            webhook_retry_schedule,
            webhook_egress,
            metrics_token_file: flags.metrics_token_file.or(self.metrics_token_file),
            calendar_dir: flags.calendar_dir.or(self.calendar_dir),
            printing: PrintingSettings {
                letterhead: caseledger_app::Letterhead {
                    office: self.letters.office.clone(),
                    signature: self.letters.signature.clone(),
                    contact: self.letters.contact.clone(),
                    copies_to,
                },
                template_dir: flags.template_dir.or(self.letters.template_dir.clone()),
                font_dir: flags.font_dir.or(self.letters.font_dir.clone()),
            },
            attachments: caseledger_app::AttachmentLimits {
                max_bytes: flags.attachment_max.unwrap_or(self.attachments.max_bytes),
                accepted: self.attachments.accepted_types.clone(),
            },
            min_free_space_bytes: flags
                .min_free_space
                .unwrap_or(self.store.min_free_space_bytes),
            sled_cache_bytes: flags.sled_cache.unwrap_or(self.store.sled_cache_bytes),
            app: caseledger_app::AppOptions {
                recent_cases_bytes: usize::try_from(
                    flags.case_cache.unwrap_or(self.store.case_cache_bytes),
                )
                .unwrap_or(usize::MAX),
                search_budget,
                idempotency_ttl,
                sessions,
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
        let letters = &self.letters;
        let mut deadline_rules = Policy::default().deadline_rules;
        for (kind, rule, days) in [
            (
                LetterKind::Reminder,
                letters.deadlines.reminder,
                letters.default_deadline_days.reminder,
            ),
            (
                LetterKind::Opinion,
                letters.deadlines.opinion,
                letters.default_deadline_days.opinion,
            ),
            (
                LetterKind::Recommendation,
                letters.deadlines.recommendation,
                letters.default_deadline_days.recommendation,
            ),
        ] {
            let default_rule = Policy::default().deadline_rules.get(&kind).copied();
            let rule = match (rule, days) {
                // The new table at its default leaves the old one its say.
                (rule, Some(days)) if rule == default_rule => (None, Some(days)),
                other => other,
            };
            let rule = match rule {
                (Some(_), Some(_)) => {
                    return Err(ConfigError::new(
                        format!("letters.default_deadline_days.{kind}"),
                        format!(
                            "is also given as letters.deadlines.{kind}; keep only the \
                             latter"
                        ),
                    ))
                }
                (Some(rule), None) => {
                    if !(1..=MAX_DEADLINE_DAYS).contains(&i64::from(rule.amount)) {
                        return Err(ConfigError::new(
                            format!("letters.deadlines.{kind}.amount"),
                            format!(
                                "must be a whole number of days from 1 to {MAX_DEADLINE_DAYS}, \
                                 not {}",
                                rule.amount
                            ),
                        ));
                    }
                    rule
                }
                (None, Some(value)) => {
                    let key = format!("letters.default_deadline_days.{kind}");
                    let amount = u32::try_from(value)
                        .ok()
                        .filter(|amount| (1..=MAX_DEADLINE_DAYS).contains(&i64::from(*amount)));
                    let Some(amount) = amount else {
                        return Err(ConfigError::new(
                            key,
                            format!(
                                "must be a whole number of days from 1 to {MAX_DEADLINE_DAYS}, \
                                 not {value}"
                            ),
                        ));
                    };
                    // Days from issue, as this table always meant.
                    DeadlineRule {
                        amount,
                        unit: PeriodUnit::CalendarDays,
                        from: PeriodStart::Issued,
                    }
                }
                (None, None) => continue,
            };
            deadline_rules.insert(kind, rule);
        }
        let issuer = match (&letters.number_prefix, letters.issuer.as_str()) {
            // The old prefix names the issuer when the issuer is the default.
            (Some(prefix), issuer) if issuer == NumberTemplate::default().issuer => prefix.clone(),
            (_, issuer) => issuer.to_owned(),
        };
        let policy = Policy {
            departments,
            tiers,
            deadline_rules,
            letter_numbers: NumberTemplate {
                template: letters.number_template.clone(),
                issuer,
            },
            letter_approval: letters.approval,
            max_case_events: self.guards.max_case_events,
        };
        // The checks above name the key of each mistake; the domain's own check stays the
        // authority on what a consistent policy is.
        policy.validate().map_err(|error| {
            let key = match &error {
                PolicyError::UnknownTierMember { tier, .. } => format!("tiers.{tier}"),
                PolicyError::NonPositiveDeadline { kind } => {
                    format!("letters.deadlines.{kind}.amount")
                }
                PolicyError::InvalidIssuer { .. } => "letters.issuer".to_owned(),
                PolicyError::InvalidNumberTemplate { .. } => "letters.number_template".to_owned(),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;
    use crate::config::GuardsArgs;

    #[test]
    fn the_defaults_are_the_domain_defaults() {
        let settings = Config::default().resolve(ServeArgs::default()).unwrap();
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
                .resolve(ServeArgs::default())
                .unwrap_err();
            assert_eq!(error.key, key, "{text}");
        }
        let file = Config::from_toml(
            "[store]\nmin_free_space_bytes = 1024\n[limits]\nheader_read_timeout_ms = 1500\n",
        )
        .unwrap();
        let settings = file.clone().resolve(ServeArgs::default()).unwrap();
        assert_eq!(settings.min_free_space_bytes, 1024);
        assert_eq!(
            settings.http.header_read_timeout,
            Duration::from_millis(1500)
        );
        let error = file
            .resolve(ServeArgs {
                body_read_timeout: Some(Duration::from_secs(60)),
                ..ServeArgs::default()
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
        .resolve(ServeArgs::default())
        .unwrap();
        assert_eq!(settings.app.search_budget, Duration::from_millis(700));
        assert_eq!(settings.policy.max_case_events, 20);
        assert_eq!(
            settings.api.token_rate,
            caseledger_api::guards::Rate::new(5, 9)
        );
        assert_eq!(settings.api.whole_log_reads_per_token, 3);
        assert_eq!(settings.http.max_connections, 64);
        let defaults = Config::default().resolve(ServeArgs::default()).unwrap();
        assert_eq!(defaults.policy.max_case_events, 10_000);
        assert_eq!(
            defaults.api.token_rate,
            caseledger_api::guards::Rate::new(20_000, 100_000)
        );

        let refused = |toml: &str| {
            Config::from_toml(toml)
                .unwrap()
                .resolve(ServeArgs::default())
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
            .resolve(ServeArgs {
                guards: GuardsArgs {
                    search_budget: Some(Duration::ZERO),
                    ..GuardsArgs::default()
                },
                ..ServeArgs::default()
            })
            .unwrap_err();
        assert_eq!(error.key, "--search-budget");
    }

    #[test]
    fn flags_override_the_file_and_the_file_overrides_the_defaults() {
        let config = Config::from_toml(
            "listen = \"0.0.0.0:9000\"\ndata_dir = \"/var/lib/caseledger\"\n\
             calendar_dir = \"/srv/calendar\"\n\
             [limits]\ndeadline_scan_interval_secs = 60\n\
             [letters]\noffice = \"涪城区总工会\"\nsignature = []\n\
             template_dir = \"/srv/templates\"\nfont_dir = \"/srv/fonts\"\n\
             [letters.copies_to]\nrecommendation = [\" 四川省总工会 \"]\n",
        )
        .unwrap();

        // Nothing on the command line: the file wins over the defaults.
        let from_file = config.clone().resolve(ServeArgs::default()).unwrap();
        assert_eq!(from_file.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(from_file.data_dir, PathBuf::from("/var/lib/caseledger"));
        assert_eq!(from_file.deadline_scan_interval, Duration::from_secs(60));
        assert_eq!(from_file.store, StoreSelection::Sled);
        assert_eq!(from_file.calendar_dir, Some(PathBuf::from("/srv/calendar")));
        assert_eq!(from_file.printing.letterhead.office, "涪城区总工会");
        assert!(from_file.printing.letterhead.signature.is_empty());
        assert_eq!(
            from_file.printing.letterhead.copies_to,
            BTreeMap::from([(LetterKind::Recommendation, vec!["四川省总工会".to_owned()])])
        );
        assert_eq!(
            Config::from_toml("[letters.copies_to]\nopinion = [\"\"]\n")
                .unwrap()
                .resolve(ServeArgs::default())
                .unwrap_err()
                .key,
            "letters.copies_to.opinion"
        );
        assert_eq!(
            from_file.printing.template_dir,
            Some(PathBuf::from("/srv/templates"))
        );

        // Flags (or their env vars) win over the file.
        let overrides = ServeArgs {
            config: None,
            listen: Some("127.0.0.1:0".parse().unwrap()),
            data_dir: Some(PathBuf::from("/tmp/elsewhere")),
            store: Some("postgres://caseledger@db/caseledger".parse().unwrap()),
            deadline_scan_interval: Some(Duration::from_secs(5)),
            signing_key: Some(PathBuf::from("/etc/caseledger/key")),
            kek_file: Some(PathBuf::from("/etc/caseledger/kek")),
            previous_kek_file: None,
            webhook_retry_schedule: Some("1s,1m".parse().unwrap()),
            webhook_allow_cidr: vec![parse_cidr("127.0.0.0/8").unwrap()],
            webhook_require_https: true,
            metrics_token_file: Some(PathBuf::from("/etc/caseledger/metrics-token")),
            calendar_dir: Some(PathBuf::from("/etc/caseledger/calendar")),
            template_dir: Some(PathBuf::from("/etc/caseledger/templates")),
            font_dir: None,
            attachment_max: Some(5 * 1024 * 1024),
            idempotency_ttl: Some(Duration::from_secs(48 * 60 * 60)),
            min_free_space: Some(0),
            case_cache: Some(1024),
            sled_cache: Some(2048),
            header_read_timeout: Some(Duration::from_secs(2)),
            body_read_timeout: Some(Duration::from_secs(3)),
            guards: GuardsArgs {
                search_budget: Some(Duration::from_millis(250)),
                max_case_events: Some(50),
                token_rate: Some((10, 20)),
                address_rate: Some((0, 0)),
                whole_log_reads: Some(1),
                max_connections: Some(8),
            },
            console: Default::default(),
        };
        let from_flags = config.resolve(overrides).unwrap();
        assert_eq!(from_flags.app.search_budget, Duration::from_millis(250));
        assert_eq!(from_flags.policy.max_case_events, 50);
        assert_eq!(from_flags.attachments.max_bytes, 5 * 1024 * 1024);
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
        assert_eq!(
            from_flags.calendar_dir,
            Some(PathBuf::from("/etc/caseledger/calendar"))
        );
        assert_eq!(
            from_flags.printing.template_dir,
            Some(PathBuf::from("/etc/caseledger/templates"))
        );
        assert_eq!(
            from_flags.printing.font_dir,
            Some(PathBuf::from("/srv/fonts")),
            "a flag left out keeps the file's"
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
        let overrides = ServeArgs {
            store: Some(StoreSelection::Sled),
            ..ServeArgs::default()
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
            .resolve(ServeArgs::default())
            .unwrap_err()
    }

    #[test]
    fn console_settings_come_from_the_file_and_the_flags_and_bad_ones_name_their_key() {
        let default = Config::default().resolve(ServeArgs::default()).unwrap();
        assert_eq!(default.console.timezone, chrono_tz::Asia::Shanghai);
        assert_eq!(default.console.public_url, None);
        assert_eq!(default.app.sessions, caseledger_app::SessionLimits::DEFAULT);
        let from_file = Config::from_toml(
            "[console]\ntimezone = \"Asia/Urumqi\"\nsession_idle_minutes = 10\n\
             public_url = \"https://cl.example.org/\"\n",
        )
        .unwrap()
        .resolve(ServeArgs::default())
        .unwrap();
        assert_eq!(from_file.console.timezone, chrono_tz::Asia::Urumqi);
        assert_eq!(from_file.app.sessions.idle, Duration::from_secs(600));
        assert_eq!(
            from_file.console.public_url.as_deref(),
            Some("https://cl.example.org")
        );
        assert!(from_file.console.secure_cookies);
        assert_eq!(
            error_of("[console]\ntimezone = \"Mars/Olympus\"\n").key,
            "console.timezone"
        );
        assert_eq!(
            error_of("[console]\nsession_idle_minutes = 0\n").key,
            "console.session_idle_minutes"
        );
        assert_eq!(
            error_of("[console]\nsession_max_hours = 0\n").key,
            "console.session_max_hours"
        );
        assert_eq!(
            error_of("[console]\npublic_url = \"ftp://x\"\n").key,
            "console.public_url"
        );
        let flags = ServeArgs {
            console: super::super::flags::ConsoleArgs {
                timezone: Some("UTC".into()),
                ..Default::default()
            },
            ..ServeArgs::default()
        };
        let overridden = Config::default().resolve(flags).unwrap();
        assert_eq!(overridden.console.timezone, chrono_tz::UTC);
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
                "[letters]\nissuer = \"绵 工监\"\n",
                "letters.issuer",
                "without spaces",
            ),
            (
                "[letters]\nnumber_prefix = \"\"\n",
                "letters.issuer",
                "1 to 16 characters",
            ),
            (
                "[letters]\nnumber_template = \"{issuer}〔{year}〕{n}号\"\n",
                "letters.number_template",
                "must hold {kind}",
            ),
            (
                "[letters.deadlines]\nopinion = { amount = 0, unit = \"working_days\", from = \"served\" }\n",
                "letters.deadlines.opinion.amount",
                "from 1 to 3650",
            ),
            (
                "[letters.deadlines]\nopinion = { amount = 5, unit = \"working_days\", from = \"issued\" }\n\
                 [letters.default_deadline_days]\nopinion = 5\n",
                "letters.default_deadline_days.opinion",
                "keep only",
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
        let default = Config::default().resolve(ServeArgs::default()).unwrap();
        assert_eq!(default.webhook_retry_schedule, RetrySchedule::default());
        let config = Config::from_toml("[webhooks]\nretry_schedule = \"0s,30s\"\n").unwrap();
        let from_file = config.clone().resolve(ServeArgs::default()).unwrap();
        assert_eq!(from_file.webhook_retry_schedule.to_string(), "0s,30s");
        let from_flag = config
            .resolve(ServeArgs {
                webhook_retry_schedule: Some("5m".parse().unwrap()),
                ..ServeArgs::default()
            })
            .unwrap();
        assert_eq!(from_flag.webhook_retry_schedule.to_string(), "5m");
        let error = error_of("[webhooks]\nretry_schedule = \"0s,soon\"\n");
        assert_eq!(error.key, "webhooks.retry_schedule");
        assert!(error.message.contains("soon"), "{error}");
    }

    #[test]
    fn the_idempotency_period_is_a_week_by_default_and_never_below_a_day() {
        let default = Config::default().resolve(ServeArgs::default()).unwrap();
        assert_eq!(
            default.app.idempotency_ttl,
            Duration::from_secs(7 * 24 * 60 * 60)
        );
        let from_file = Config::from_toml("[limits]\nidempotency_ttl_hours = 30\n")
            .unwrap()
            .resolve(ServeArgs::default())
            .unwrap();
        assert_eq!(
            from_file.app.idempotency_ttl,
            Duration::from_secs(30 * 3600)
        );
        let error = error_of("[limits]\nidempotency_ttl_hours = 23\n");
        assert_eq!(error.key, "limits.idempotency_ttl_hours");
        let error = Config::default()
            .resolve(ServeArgs {
                idempotency_ttl: Some(Duration::from_secs(3600)),
                ..ServeArgs::default()
            })
            .unwrap_err();
        assert_eq!(error.key, "--idempotency-ttl");
    }

    #[test]
    fn webhook_egress_comes_from_the_flags_the_file_or_the_default() {
        let default = Config::default().resolve(ServeArgs::default()).unwrap();
        assert_eq!(default.webhook_egress, EgressPolicy::default());
        let config = Config::from_toml(
            "[webhooks]\nallow_cidrs = [\"127.0.0.0/8\", \"fd00::/8\"]\nrequire_https = true\n",
        )
        .unwrap();
        let from_file = config.clone().resolve(ServeArgs::default()).unwrap();
        assert_eq!(
            from_file.webhook_egress.allowed,
            [
                parse_cidr("127.0.0.0/8").unwrap(),
                parse_cidr("fd00::/8").unwrap()
            ]
        );
        assert!(from_file.webhook_egress.require_https);
        let from_flag = config
            .resolve(ServeArgs {
                webhook_allow_cidr: vec![parse_cidr("10.0.0.0/8").unwrap()],
                ..ServeArgs::default()
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
        let overrides = ServeArgs {
            deadline_scan_interval: Some(Duration::ZERO),
            ..ServeArgs::default()
        };
        let error = Config::default().resolve(overrides).unwrap_err();
        assert_eq!(error.key, "--deadline-scan-interval");
    }

    #[test]
    fn with_defaults_is_the_defaults_on_the_given_dir_address_and_store() {
        let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let store: StoreSelection = "postgres://u@h/d".parse().unwrap();
        let settings = Settings::with_defaults("/tmp/somewhere", listen, store.clone());
        let flags = ServeArgs {
            data_dir: Some(PathBuf::from("/tmp/somewhere")),
            listen: Some(listen),
            store: Some(store),
            ..ServeArgs::default()
        };
        assert_eq!(
            format!("{settings:?}"),
            format!("{:?}", flags.settings().unwrap())
        );
    }
}
