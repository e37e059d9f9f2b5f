//! Logging: `tracing` output on stderr, human-readable by default, JSON with `--log-format json`.
//!
//! This module owns the subscriber and its filter, which comes from the env var `CASELEDGER_LOG`
//! (`RUST_LOG` syntax, e.g. `debug` or `caseledger_store=debug,info`) and defaults to `info`.
//! It does not decide what is logged; every crate logs through the `tracing` macros.

use std::io::IsTerminal as _;

use anyhow::Context as _;
use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// The env var that holds the log filter.
pub const FILTER_ENV: &str = "CASELEDGER_LOG";

/// The filter when `CASELEDGER_LOG` is unset or empty.
pub const DEFAULT_FILTER: &str = "info";

/// Installs the global subscriber; call it once, before anything logs.
pub fn init(format: LogFormat) -> anyhow::Result<()> {
    let filter = filter_from(std::env::var(FILTER_ENV).ok().as_deref())?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Human => builder
            // Colours only for a person at a terminal; files and pipes get plain text.
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
    installed
        .map_err(|error| anyhow::anyhow!("{error}"))
        .context("cannot install the log subscriber")
}

/// The filter described by `directives` (the value of `CASELEDGER_LOG`), or the default.
fn filter_from(directives: Option<&str>) -> anyhow::Result<EnvFilter> {
    match directives.map(str::trim) {
        None | Some("") => Ok(EnvFilter::new(DEFAULT_FILTER)),
        // The parse error repeats its cause in its own message, so it is not kept as a source.
        Some(directives) => EnvFilter::try_new(directives).map_err(|error| {
            anyhow::anyhow!("{FILTER_ENV}={directives:?} is not a valid log filter: {error}")
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_defaults_to_info_and_refuses_nonsense() {
        let default = filter_from(None).map(|filter| filter.to_string());
        assert_eq!(default.ok().as_deref(), Some("info"));
        assert!(filter_from(Some("  ")).is_ok());
        assert!(filter_from(Some("caseledger_store=debug,warn")).is_ok());
        let error = filter_from(Some("caseledger=loud")).err();
        assert!(
            error.is_some_and(|error| error.to_string().contains("CASELEDGER_LOG")),
            "an invalid filter is refused, naming the variable"
        );
    }
}
