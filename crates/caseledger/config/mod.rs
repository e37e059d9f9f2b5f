//! The service's configuration, in three layers — flags and `CASELEDGER_*` env vars, the TOML
//! file, the defaults — merged into [`Settings`], what `serve` runs with.
//!
//! Where a setting lives, like ripgrep's flags (definitions, parsing, high-level arguments):
//! - [`flags`]: every `serve` flag, defined once ([`ServeArgs`], [`GuardsArgs`]);
//! - [`file`](mod@file): every file key with its default ([`Config`]);
//! - [`resolve`]: the merge and its checks ([`Config::resolve`], [`Settings`], [`ConfigError`]);
//! - [`units`]: sizes and durations, one style in flags and file alike (`30s`, `64MiB`);
//! - [`store_selection`]: `sled` or a `postgres://` URL ([`StoreSelection`]).

pub mod file;
pub mod flags;
pub mod resolve;
pub mod store_selection;
pub mod units;

pub use file::{
    Config, DeadlineDaysConfig, GuardsConfig, LettersConfig, LimitsConfig, StoreConfig,
    TiersConfig, WebhooksConfig,
};
pub use flags::{GuardsArgs, ServeArgs};
pub use resolve::{ConfigError, HttpLimits, PrintingSettings, Settings};
pub use store_selection::StoreSelection;
pub use units::{parse_duration, parse_rate, parse_size};
