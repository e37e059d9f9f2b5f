//! The console: the pages people use caseledger through in a browser (contract §8), served by
//! the same binary beside the JSON API and calling the same [`caseledger_app::App`].
//!
//! Server-rendered HTML (minijinja templates embedded in the binary), a vendored, pinned htmx
//! for partial updates, messages in zh-CN and en (Fluent), times in the office's time zone.
//! Handlers decide nothing: they read a form or a query, call the app, and render what it
//! answers; the app's rules, roles and version checks are the API's.
//!
//! What it owns: sessions' cookies and the per-session form token (`session.rs`), the security
//! headers and the `Origin` check (`security.rs`), pages (`pages/`), the templates
//! (`templates.rs`, `templates/`), the catalogs (`i18n.rs`, `locales/`), static assets
//! (`assets.rs`, `assets/`), what the case forms post and how it becomes the app's input
//! (`forms.rs`), what pages show of cases (`views.rs`) and of the log to auditors
//! (`audit_views.rs`), the dashboard's figures as rows (`figures.rs`), its charts as SVG
//! (`charts.rs`) and its downloads (`reports.rs`), what can go wrong (`error.rs`) and how a
//! problem becomes a page (`problems.rs`). What it leaves out: JSON, tokens, and anything the
//! app decides.

mod assets;
mod audit_views;
mod charts;
mod config;
mod error;
mod figures;
mod forms;
mod i18n;
mod pages;
mod problems;
mod reports;
mod security;
mod session;
mod state;
mod templates;
mod upload;
mod views;

pub use config::ConsoleConfig;
pub use i18n::{Catalogs, Lang};
pub use state::ConsoleState;

/// The console's routes, under `/console/`, and `/` leading there. Merge it with the API's
/// router; it has no fallback of its own outside `/console/`.
pub fn router(state: ConsoleState) -> axum::Router {
    pages::routes(state)
}
