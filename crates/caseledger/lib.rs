//! The `caseledger` binary as a library: configuration, telemetry, startup and the command line.
//!
//! Central types: [`cli::Cli`] (the command line), [`config::Config`] (the TOML file and its
//! defaults) resolved into [`config::Settings`] (what `serve` runs with), and
//! [`serve::Server`] (the started service, bound to its real address). The HTTP API lives in
//! `caseledger-api`, the service in `caseledger-app`, the event log in `caseledger-store`; this
//! package owns no business rule and no route, only how they are put together and started.

pub mod audit;
pub mod cli;
pub mod config;
pub mod data_dir;
pub mod demo;
pub mod http_server;
pub mod kek;
mod private_file;
mod progress;
pub mod projections;
pub mod serve;
pub mod signing_key;
pub mod store;
pub mod telemetry;
#[cfg(test)]
mod testing;
pub mod witness;
